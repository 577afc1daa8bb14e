package bench

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// cpuList parses a CPU list as taskset and /proc/*/status write it ("0", "0-1", "0,2-3") into
// sorted, distinct CPU numbers.
func cpuList(s string) ([]int, error) {
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("CPU list %q: %q is not a CPU number or range", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > 1023 {
				return nil, fmt.Errorf("CPU list %q: %q is not a range of CPU numbers", s, part)
			}
		}
		if a > 1023 {
			return nil, fmt.Errorf("CPU list %q: CPU %d is out of range", s, a)
		}
		for c := a; c <= b; c++ {
			seen[c] = true
		}
	}
	out := make([]int, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Ints(out)
	return out, nil
}

// formatCPUs writes CPU numbers back as a list ("0,2").
func formatCPUs(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// pinning says on which CPUs the servers of a side-by-side run and its load generator run
// (FloorConfig.ServerCPUs). nil: wherever the kernel puts them.
type pinning struct {
	servers, load []int
}
