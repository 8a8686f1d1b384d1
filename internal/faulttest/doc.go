// Package faulttest holds Tollgate's fault tests: a real handler over real
// PostgreSQL (and Redis) with a faultproxy between them, cut and restored
// while requests run. It has no non-test code.
package faulttest
