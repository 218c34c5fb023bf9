"""The catalog: plans, add-ons and coupons."""
