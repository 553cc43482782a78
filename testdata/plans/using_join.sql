SELECT id, name FROM customers JOIN orders USING (id) WHERE amount > 1
