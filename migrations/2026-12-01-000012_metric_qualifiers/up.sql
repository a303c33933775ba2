-- How exact an outcome number is: "vairāk kā 1300" is more than 1,300, "ap 30 tūkstoši" about
-- 30,000. Stats carry it through (a sum containing a "more than" is a "more than").
ALTER TABLE metric_values ADD COLUMN qualifier text NOT NULL DEFAULT 'exact'
    CONSTRAINT metric_values_qualifier_check
    CHECK (qualifier IN ('exact', 'approximate', 'more_than', 'at_least', 'less_than', 'at_most'));
