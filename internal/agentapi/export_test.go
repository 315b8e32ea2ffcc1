package agentapi

// ReplayMemory is what the in-process replay protection of a holds: the
// agents with a window and the entries of all windows.
func ReplayMemory(a *API) (agents, entries int) {
	c := a.cfg.Nonces.(*nonceCache)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.windows.each(func(_ string, w ReplayWindow) { entries += len(w.Entries) })
	return c.windows.len(), entries
}

// HeldPolls is how many long polls h holds.
func HeldPolls(h *Hub) int { return h.heldPolls() }

// RateBuckets is how many robots' rate buckets a keeps.
func RateBuckets(a *API) int { return a.rates.held() }

// ScheduledPolls is how many held polls wait in h's deadline heap.
func ScheduledPolls(h *Hub) int { return h.scheduled() }

// HoldSlots takes every work slot of a, as a saturated server's requests
// would; the func it returns gives them back.
func HoldSlots(a *API) (release func()) {
	var held []func()
	for a.slots.tryEnter() {
		held = append(held, a.slots.leave)
	}
	return func() {
		for _, leave := range held {
			leave()
		}
	}
}

// FreeSlots is how many work slots of a are free now.
func FreeSlots(a *API) int { return cap(a.slots.ch) - len(a.slots.ch) }
