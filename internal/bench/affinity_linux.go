package bench

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

func cpuSet(cpus []int) *unix.CPUSet {
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return &set
}

// newPinning puts the servers on the CPUs of serverList and this process — the load generator —
// on every other CPU it may use, so the two stop competing for cores: the ratio then compares
// what each server does with the same CPUs, and moves far less from round to round.
func newPinning(serverList string) (*pinning, error) {
	servers, err := cpuList(serverList)
	if err != nil {
		return nil, err
	}
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		return nil, fmt.Errorf("CPU affinity: %w", err)
	}
	p := &pinning{servers: servers}
	isServer := map[int]bool{}
	for _, c := range servers {
		if !mine.IsSet(c) {
			return nil, fmt.Errorf("CPU %d is not one this process may use", c)
		}
		isServer[c] = true
	}
	for c := 0; c < 1024; c++ {
		if mine.IsSet(c) && !isServer[c] {
			p.load = append(p.load, c)
		}
	}
	if len(p.load) == 0 {
		return nil, fmt.Errorf("the servers would take every CPU (%s): leave at least one for the load generator", formatCPUs(servers))
	}
	if err := pinProcess(p.load); err != nil {
		return nil, fmt.Errorf("CPU affinity of the load generator: %w", err)
	}
	return p, nil
}

// pinProcess confines every thread of this process to cpus; threads made later inherit the mask
// of the thread that makes them.
func pinProcess(cpus []int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, cpuSet(cpus)); err != nil && err != unix.ESRCH {
			return err // ESRCH: the thread has just exited
		}
	}
	return nil
}

// startCmd starts cmd on the servers' CPUs: the calling thread takes that mask for the fork (a
// child inherits the mask of the thread that forks it), then takes the load generator's back.
func (p *pinning) startCmd(cmd *exec.Cmd) error {
	if p == nil {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.SchedSetaffinity(0, cpuSet(p.servers)); err != nil {
		return fmt.Errorf("CPU affinity of the server: %w", err)
	}
	err := cmd.Start()
	if e := unix.SchedSetaffinity(0, cpuSet(p.load)); e != nil && err == nil {
		err = fmt.Errorf("CPU affinity of the load generator: %w", e)
	}
	return err
}
