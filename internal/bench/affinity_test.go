package bench

import "testing"

func TestCPUListIsParsedLikeTaskset(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "0-1": "0,1", "2,0": "0,2", "0-2,1": "0,1,2", " 1 ": "1"} {
		got, err := cpuList(in)
		if err != nil || formatCPUs(got) != want {
			t.Errorf("cpuList(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "1-", "-1", "3-1", "0,,1", "2000"} {
		if got, err := cpuList(bad); err == nil {
			t.Errorf("cpuList(%q) = %v, want an error", bad, got)
		}
	}
}
