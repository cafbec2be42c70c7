"""rostersync: roster sync pipeline for K-12 edtech."""
