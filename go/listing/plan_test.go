package listing

import "testing"

// TestPlanJump checks that one estimate cannot lift the plan (and with it
// the probe budget and every folder's share) past planJump times the plan
// so far or the pages listed, while a listing's first plan and gradual
// growth are taken as they come.
func TestPlanJump(t *testing.T) {
	tests := []struct {
		name                 string
		planned, pages, plan int
		want                 int
	}{
		{"the first plan, however large", 0, 2, 10_443, 10_443},
		{"growth", 7_120, 550, 10_240, 10_240},
		{"never lowered", 10_240, 600, 9_000, 10_240},
		{"a 544 M-page estimate on a 10 M-key listing", 10_443, 567, 544_697_890, 10_443},
		{"up to planJump times the plan", 10_000, 500, planJump * 10_000, planJump * 10_000},
		{"just past it", 10_000, 500, planJump*10_000 + 1, 10_000},
		{"or times the pages listed, when more", 100, 1_000, planJump * 1_000, planJump * 1_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			l.planned, l.pages = tc.planned, tc.pages
			l.plan(tc.plan)
			if l.planned != tc.want {
				t.Errorf("plan(%d) with %d planned, %d pages listed: planned %d, want %d",
					tc.plan, tc.planned, tc.pages, l.planned, tc.want)
			}
		})
	}
}
