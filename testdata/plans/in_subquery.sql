SELECT id FROM orders WHERE customer IN (SELECT id FROM customers WHERE city = 'rome')
