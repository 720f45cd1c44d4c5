"""Analytics: dbt marts over the lake, the local dashboard and the QuickSight spec."""
