SELECT id, 1 + 2 * 3 AS seven, CONCAT('a', 'b') AS ab FROM orders WHERE 1 = 1 AND amount > 10 + 5
