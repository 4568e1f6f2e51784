package lab

// GroupMembers lists the live processes of a process group, for tests
// that check a fault left no orphan behind.
var GroupMembers = groupMembers
