SELECT o.id, c.name FROM orders o JOIN customers c AS OF TIMESTAMP PROCTIME() ON o.customer = c.id WHERE c.tier > 1 AND o.amount > 10
