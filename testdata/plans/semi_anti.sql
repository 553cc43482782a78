SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer = c.id AND o.status = 'open') AND NOT EXISTS (SELECT 1 FROM orders o2 WHERE o2.customer = c.id AND o2.amount > 1000)
