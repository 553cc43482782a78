package jobs_test

import (
	"fmt"
	"sort"
	"testing"
)

func init() {
	// Users 1..n; orders carry the ids of the users they belong to, even
	// users only, and arrive later than their users (see below).
	const q = "SELECT u.id, o.id FROM users u LEFT JOIN orders o ON u.id = o.id"
	jobQuery["olj"] = "INSERT INTO lj " + q
	jobQuery["oljref"] = "INSERT INTO ljref " + q
	// A LEFT JOIN to an aggregate's changelog: each user's order count.
	const qa = "SELECT u.id, s.n FROM users u LEFT JOIN (SELECT id DIV 2 AS k, count(*) AS n FROM orders GROUP BY id DIV 2) s ON u.id = s.k"
	jobQuery["olja"] = "INSERT INTO lja " + qa
	jobQuery["oljaref"] = "INSERT INTO ljaref " + qa
}

// TestLeftJoinJobRestoresFromCheckpoint: a regular LEFT JOIN of two topics
// runs as a symmetric join that aligns barriers, so its job checkpoints
// both scans, the stored rows and their match counts. Users are emitted
// NULL-padded until their order arrives (orders lag their users by 20 ids,
// so some users' first match comes after the restart and must retract a
// padded row emitted before the crash); after a crash the restarted job
// reads only the rows after the checkpoint, and the upsert table it writes
// (key: the user) ends as an uninterrupted run's.
func TestLeftJoinJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE users (id BIGINT, ts TIMESTAMP) COMMENT 'partitions=2';
		CREATE TABLE orders (id BIGINT, ts TIMESTAMP);
		CREATE TABLE lj (u BIGINT PRIMARY KEY, o BIGINT);
		CREATE TABLE ljref (u BIGINT PRIMARY KEY, o BIGINT)`)
	orders := func(lo, hi int) {
		for i := max(lo, 1); i <= hi; i++ {
			if i%2 == 0 {
				e.insertIDs("orders", i, i)
			}
		}
	}
	// Users lo..hi and the even orders 20 ids behind.
	step := func(lo, hi int) func() {
		return func() { e.insertIDs("users", lo, hi); orders(lo-20, hi-20) }
	}
	// Rows: 60 users + 20 orders (2..40); 30 + 15 (42..70); 30 + 15 (72..100).
	m := crashAndRestart(t, e, "olj", 2, step(1, 60), step(61, 90), step(91, 120), 80, 125, 170)
	var exp []string
	for u := 1; u <= 120; u++ {
		o := "NULL"
		if u%2 == 0 && u <= 100 {
			o = fmt.Sprint(u)
		}
		exp = append(exp, fmt.Sprintf("%d|%s", u, o))
	}
	sort.Strings(exp)
	runReference(t, e, m, "oljref", 170)
	want := distinctRows(e.run("SELECT u, o FROM ljref"))
	same(t, want, exp)
	same(t, distinctRows(e.run("SELECT u, o FROM lj")), want)
}

// TestLeftJoinAggregateJobRestores: a LEFT JOIN to a GROUP BY (a changelog:
// each user's count goes 1 then 2, -U/+U) checkpoints the aggregate's and
// the join's states together; after a crash the restarted job ends as an
// uninterrupted run: users with orders have their count, the others NULL.
func TestLeftJoinAggregateJobRestores(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE users (id BIGINT, ts TIMESTAMP) COMMENT 'partitions=2';
		CREATE TABLE orders (id BIGINT, ts TIMESTAMP);
		CREATE TABLE lja (u BIGINT PRIMARY KEY, n BIGINT);
		CREATE TABLE ljaref (u BIGINT PRIMARY KEY, n BIGINT)`)
	// Users lo..hi and the orders 2u, 2u+1 of the users 20 ids behind.
	step := func(lo, hi int) func() {
		return func() {
			e.insertIDs("users", lo, hi)
			if hi > 20 {
				e.insertIDs("orders", 2*max(lo-20, 1), 2*(hi-20)+1)
			}
		}
	}
	// Rows: 60 users + 80 orders; 30 + 60; 30 + 60.
	m := crashAndRestart(t, e, "olja", 2, step(1, 60), step(61, 90), step(91, 120), 140, 230, 320)
	var exp []string
	for u := 1; u <= 120; u++ {
		n := "NULL"
		if u <= 100 {
			n = "2"
		}
		exp = append(exp, fmt.Sprintf("%d|%s", u, n))
	}
	sort.Strings(exp)
	runReference(t, e, m, "oljaref", 320)
	want := distinctRows(e.run("SELECT u, n FROM ljaref"))
	same(t, want, exp)
	same(t, distinctRows(e.run("SELECT u, n FROM lja")), want)
}
