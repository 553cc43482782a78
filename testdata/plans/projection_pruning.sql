SELECT id FROM orders WHERE amount > 100
