package exec_test

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// Golden pipeline verbs of the upsert operators (testdata/stream):
//
//	upsert key=COL flag=COL pk=a,b                        UpsertMaterialize (flag NULL: bootstrap marker)
//	lookupjoin table=S lkeys=a rkeys=b key=COL flag=COL pk=a [type=left] [retract=true]   LookupJoin of the current stream with table S
//	                                                     (retract: the stream is a changelog, SetRetractable)
func init() {
	extraGoldenOps["upsert"] = func(op goldenOp, child exec.Operator, _ map[string]exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		spec, err := goldenUpsertSpec(op, goldenArgs{op.args, child.Schema()})
		if err != nil {
			return nil, err
		}
		return exec.NewUpsertMaterialize(child, spec, mem)
	}
	extraGoldenOps["lookupjoin"] = func(op goldenOp, child exec.Operator, streams map[string]exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		table := streams[op.args["table"]]
		if table == nil {
			return nil, fmt.Errorf("table=%q must name a stream", op.args["table"])
		}
		lk, rk, err := goldenJoinKeys(op, child, table)
		if err != nil {
			return nil, err
		}
		spec, err := goldenUpsertSpec(op, goldenArgs{op.args, table.Schema()})
		if err != nil {
			return nil, err
		}
		typ := exec.InnerJoin
		if op.args["type"] == "left" {
			typ = exec.LeftJoin
		}
		j, err := exec.NewLookupJoin(child, table, typ, lk, rk, spec, nil, mem)
		if err != nil {
			return nil, err
		}
		j.SetRetractable(op.args["retract"] == "true")
		return j, nil
	}
}

// goldenUpsertSpec reads key=, flag= (both optional) and pk= over a's schema.
func goldenUpsertSpec(op goldenOp, a goldenArgs) (exec.UpsertSpec, error) {
	spec := exec.UpsertSpec{KeyCol: -1, FlagCol: -1}
	var err error
	if op.args["key"] != "" {
		if spec.KeyCol, err = a.colIndex("key"); err != nil {
			return spec, err
		}
	}
	if op.args["flag"] != "" {
		if spec.FlagCol, err = a.colIndex("flag"); err != nil {
			return spec, err
		}
	}
	pk, err := a.cols("pk")
	if err != nil {
		return spec, err
	}
	for _, c := range pk {
		spec.KeyCols = append(spec.KeyCols, c.(*expr.Column).Index)
	}
	return spec, nil
}
