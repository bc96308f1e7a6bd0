"""The shop's data: customers, products, orders, carts and the loyalty ledger."""
