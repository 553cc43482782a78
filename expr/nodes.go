package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Call applies a function or operator (see Functions) to arguments. Build
// calls with NewCall, which resolves the result type and inserts the implicit
// casts MySQL would apply; Compile re-resolves calls built by hand.
type Call struct {
	Name string
	Args []Expr
	T    arrow.DataType
}

// Type implements Expr.
func (c *Call) Type() arrow.DataType { return c.T }

// infix operators render between their operands.
var infix = map[string]string{
	"+": "+", "-": "-", "*": "*", "/": "/", "div": "DIV", "%": "%",
	"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "<=>": "<=>",
	"and": "AND", "or": "OR", "xor": "XOR", "like": "LIKE", "not_like": "NOT LIKE",
	"regexp": "REGEXP", "not_regexp": "NOT REGEXP",
}

// String implements Expr.
func (c *Call) String() string {
	if op, ok := infix[c.Name]; ok && len(c.Args) == 2 {
		return "(" + c.Args[0].String() + " " + op + " " + c.Args[1].String() + ")"
	}
	switch c.Name {
	case "neg":
		if len(c.Args) == 1 {
			return "(-" + c.Args[0].String() + ")"
		}
	case "not":
		if len(c.Args) == 1 {
			return "(NOT " + c.Args[0].String() + ")"
		}
	case "is_null", "is_not_null", "is_true", "is_false", "is_not_true", "is_not_false":
		if len(c.Args) == 1 {
			return "(" + c.Args[0].String() + " " + strings.ToUpper(strings.ReplaceAll(c.Name, "_", " ")) + ")"
		}
	case "between", "not_between":
		if len(c.Args) == 3 {
			kw := " BETWEEN "
			if c.Name == "not_between" {
				kw = " NOT BETWEEN "
			}
			return "(" + c.Args[0].String() + kw + c.Args[1].String() + " AND " + c.Args[2].String() + ")"
		}
	}
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.String()
	}
	return c.Name + "(" + strings.Join(parts, ", ") + ")"
}

// Children implements Expr.
func (c *Call) Children() []Expr { return c.Args }

// WithChildren implements Expr. The result type is kept; Compile re-resolves
// the call against the new argument types.
func (c *Call) WithChildren(children []Expr) Expr {
	return &Call{Name: c.Name, Args: children, T: c.T}
}

// Cast converts Arg to T with MySQL CAST semantics (see cast.go).
type Cast struct {
	Arg Expr
	T   arrow.DataType
}

// Type implements Expr.
func (c *Cast) Type() arrow.DataType { return c.T }

// String implements Expr.
func (c *Cast) String() string {
	return "CAST(" + c.Arg.String() + " AS " + TypeName(c.T) + ")"
}

// Children implements Expr.
func (c *Cast) Children() []Expr { return []Expr{c.Arg} }

// WithChildren implements Expr.
func (c *Cast) WithChildren(children []Expr) Expr { return &Cast{Arg: children[0], T: c.T} }

// When is one WHEN cond THEN value branch of a searched CASE.
type When struct {
	Cond, Then Expr
}

// Case is a searched CASE WHEN cond THEN v ... [ELSE e] END. Else may be nil
// (NULL). Build with NewCase to get the branch types unified.
type Case struct {
	Whens []When
	Else  Expr
	T     arrow.DataType
}

// Type implements Expr.
func (c *Case) Type() arrow.DataType { return c.T }

// String implements Expr.
func (c *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range c.Whens {
		b.WriteString(" WHEN " + w.Cond.String() + " THEN " + w.Then.String())
	}
	if c.Else != nil {
		b.WriteString(" ELSE " + c.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

// Children implements Expr: cond0, then0, cond1, then1, ..., [else].
func (c *Case) Children() []Expr {
	out := make([]Expr, 0, 2*len(c.Whens)+1)
	for _, w := range c.Whens {
		out = append(out, w.Cond, w.Then)
	}
	if c.Else != nil {
		out = append(out, c.Else)
	}
	return out
}

// WithChildren implements Expr (same layout as Children).
func (c *Case) WithChildren(children []Expr) Expr {
	n := &Case{T: c.T, Whens: make([]When, len(c.Whens))}
	for i := range c.Whens {
		n.Whens[i] = When{Cond: children[2*i], Then: children[2*i+1]}
	}
	if len(children) > 2*len(c.Whens) {
		n.Else = children[2*len(c.Whens)]
	}
	return n
}

// InList is `Arg [NOT] IN (List...)`, producing BOOLEAN with SQL NULL
// semantics (NULL when Arg is NULL, or when no element matches and the
// list holds a NULL).
type InList struct {
	Arg  Expr
	List []Expr
	Not  bool
}

// Type implements Expr.
func (in *InList) Type() arrow.DataType { return arrow.FixedWidthTypes.Boolean }

// String implements Expr.
func (in *InList) String() string {
	parts := make([]string, len(in.List))
	for i, a := range in.List {
		parts[i] = a.String()
	}
	kw := " IN ("
	if in.Not {
		kw = " NOT IN ("
	}
	return "(" + in.Arg.String() + kw + strings.Join(parts, ", ") + "))"
}

// Children implements Expr: Arg then the list.
func (in *InList) Children() []Expr { return append([]Expr{in.Arg}, in.List...) }

// WithChildren implements Expr.
func (in *InList) WithChildren(children []Expr) Expr {
	return &InList{Arg: children[0], List: append([]Expr(nil), children[1:]...), Not: in.Not}
}

// Field reads field Name of a struct-typed Arg.
type Field struct {
	Arg  Expr
	Name string
	T    arrow.DataType
}

// Type implements Expr.
func (f *Field) Type() arrow.DataType { return f.T }

// String implements Expr.
func (f *Field) String() string { return f.Arg.String() + "." + f.Name }

// Children implements Expr.
func (f *Field) Children() []Expr { return []Expr{f.Arg} }

// WithChildren implements Expr.
func (f *Field) WithChildren(children []Expr) Expr {
	return &Field{Arg: children[0], Name: f.Name, T: f.T}
}

// NewField builds a struct field access, resolving the field type.
func NewField(arg Expr, name string) (*Field, error) {
	st, ok := arg.Type().(*arrow.StructType)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("cannot access field %q of %s value", name, TypeName(arg.Type()))}
	}
	idx, ok := structFieldIndex(st, name)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("no field %q in %s", name, TypeName(st))}
	}
	return &Field{Arg: arg, Name: st.Field(idx).Name, T: st.Field(idx).Type}, nil
}

// structFieldIndex finds a field by name, exactly first, then ignoring case
// (SQL identifiers are case-insensitive).
func structFieldIndex(st *arrow.StructType, name string) (int, bool) {
	if i, ok := st.FieldIdx(name); ok {
		return i, true
	}
	for i, f := range st.Fields() {
		if strings.EqualFold(f.Name, name) {
			return i, true
		}
	}
	return 0, false
}

// Error is the error type of expression construction and evaluation. Func
// names the function or operator when there is one.
type Error struct {
	Func string
	Msg  string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Func != "" {
		return "function " + e.Func + ": " + e.Msg
	}
	return e.Msg
}

func errorf(fn, format string, args ...any) error {
	return &Error{Func: fn, Msg: fmt.Sprintf(format, args...)}
}
