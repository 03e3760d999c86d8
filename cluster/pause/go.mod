module goldplatform.local/cluster/pause

go 1.22
