SELECT id, status FROM orders LIMIT 3
