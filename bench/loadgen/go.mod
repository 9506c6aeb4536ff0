module sluice.local/bench/loadgen

go 1.22
