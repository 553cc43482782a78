SELECT c.name, o.id FROM customers c, orders o WHERE c.id = o.customer AND o.amount > 5
