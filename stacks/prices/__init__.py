"""On-demand instance prices: dated snapshot files (`<region>.json`) and `prices refresh`, which
writes them from the AWS Price List API."""
