SELECT c.name, o.id FROM customers c LEFT JOIN orders o ON c.id = o.customer AND o.status = 'open' WHERE c.tier = 1 AND o.amount IS NULL
