WITH big AS (SELECT customer, SUM(amount) AS total FROM orders GROUP BY customer) SELECT c.name, b.total FROM big b JOIN customers c ON c.id = b.customer WHERE b.total > 1000
