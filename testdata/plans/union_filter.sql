SELECT * FROM (SELECT id, amount FROM orders UNION ALL SELECT k, v FROM events) u WHERE u.id > 10 LIMIT 5
