DROP TABLE rates;
DROP TABLE partners;
