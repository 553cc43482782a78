SELECT o.id, o.amount, c.name FROM orders o LEFT JOIN customers c AS OF TIMESTAMP PROCTIME() ON o.customer = c.id AND c.tier > 1 WHERE o.amount > 10
