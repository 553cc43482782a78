package exec

// JoinType is the kind of join.
type JoinType int8

// Join types. Output is left columns then right columns, except Semi and
// Anti which output the left columns only. A cross join is an InnerJoin
// without condition. FullJoin (FULL OUTER) has no SQL syntax in the MySQL
// dialect; the operators support it for plans and tests that build it.
const (
	InnerJoin JoinType = iota
	LeftJoin
	RightJoin
	SemiJoin
	AntiJoin
	FullJoin
)

func (t JoinType) String() string {
	switch t {
	case InnerJoin:
		return "Inner"
	case LeftJoin:
		return "Left"
	case RightJoin:
		return "Right"
	case SemiJoin:
		return "Semi"
	case AntiJoin:
		return "Anti"
	case FullJoin:
		return "Full"
	}
	return "JoinType(?)"
}
