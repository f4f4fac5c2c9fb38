module genie/bench/gosym

go 1.22
