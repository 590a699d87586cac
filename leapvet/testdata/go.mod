module example.com/leapvettest

go 1.26
