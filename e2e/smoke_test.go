package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

func TestSmokeCreateAndDescribeFleet(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	c := s.Client()
	ctx := testenv.Context(t)
	out, err := c.CreateFleetWithContext(ctx, &robomaker.CreateFleetInput{Name: aws.String("smoke")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeFleetWithContext(ctx, &robomaker.DescribeFleetInput{Fleet: out.Arn})
	if err != nil {
		t.Fatal(err)
	}
	if aws.StringValue(d.Name) != "smoke" || !d.CreatedAt.Equal(aws.TimeValue(out.CreatedAt)) {
		t.Errorf("DescribeFleet = %v, want the created fleet %v", d, out)
	}
}
