SELECT c.name, o.amount FROM orders o JOIN customers c ON o.customer = c.id WHERE o.status = 'open' AND c.city = 'paris' AND o.amount > c.tier * 10
