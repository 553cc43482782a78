package jobs

// Crash stops a job the way a killed process would: no final checkpoint.
func (m *Manager) Crash(name string) {
	j, err := m.get(name)
	if err != nil {
		return
	}
	j.mu.Lock()
	j.crashed = true
	j.mu.Unlock()
	j.stop()
}
