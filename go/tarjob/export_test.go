package tarjob

import "testing"

// SetSkipThreshold lowers (or raises) the skip above which an archive in S3
// is read on with a ranged GET, for the rest of the test.
func SetSkipThreshold(t testing.TB, n int64) {
	old := skipThreshold
	skipThreshold = n
	t.Cleanup(func() { skipThreshold = old })
}
