SELECT customer, COUNT(*) AS n, SUM(amount) FROM orders WHERE status <> 'void' GROUP BY customer HAVING COUNT(*) > 2 AND customer > 100
