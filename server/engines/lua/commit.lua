-- Commits of timers and rundowns, all or nothing (_commit.lua is put in front: see there).

return commit_all(0, 0)
