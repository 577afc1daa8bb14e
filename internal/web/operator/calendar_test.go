package operator

import (
	"strings"
	"testing"
	"time"

	"kessai/internal/maintenance"
)

func TestCalendarMarksWindowsAndHolidays(t *testing.T) {
	w, _ := maintenance.WallWindow("2020-07-22", "02:55", "04:30", "")
	w.ID = 7
	x, _ := maintenance.WallWindow("2020-08-20", "02:55", "04:30", "")
	x.ID, x.Status = 8, maintenance.StatusCancelled
	months := calendar(2020, []maintenance.Window{w, x}, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), "ja")
	if len(months) != 12 || months[6].Name != "2020年7月" {
		t.Fatalf("months %d %q", len(months), months[6].Name)
	}
	find := func(m, d int) calDay {
		for _, wk := range months[m-1].Weeks {
			for _, c := range wk {
				if c.Day == d {
					return c
				}
			}
		}
		t.Fatalf("no %d/%d", m, d)
		return calDay{}
	}
	if c := find(7, 22); !strings.Contains(c.Class, "win planned") || !strings.Contains(c.Title, "#7") {
		t.Fatalf("7/22: %+v", c)
	}
	if c := find(7, 23); !strings.Contains(c.Class, "hol") { // 海の日 2020 (moved for the Olympics)
		t.Fatalf("7/23: %+v", c)
	}
	if c := find(8, 20); !strings.Contains(c.Class, "cancelled") {
		t.Fatalf("8/20: %+v", c)
	}
	// 1 July 2020 is a Wednesday: the first week has three blank days
	if wk := months[6].Weeks[0]; wk[0].Day != 0 || wk[3].Day != 1 {
		t.Fatalf("first week of July: %+v", wk)
	}
	days := 0
	for _, m := range months {
		for _, wk := range m.Weeks {
			for _, c := range wk {
				if c.Day != 0 {
					days++
				}
			}
		}
	}
	if days != 366 {
		t.Fatalf("%d days in 2020", days)
	}
}
