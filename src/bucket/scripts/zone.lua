-- zone: stores a window zone's UTC offsets for the scripts that answered
-- TBZONE (see common: <key>:z), computed by the client from its time zone
-- database. Facts only: writing them twice is harmless.
-- KEYS[1] <bucket key>:z
-- ARGV[1] "<zone> <until s> <from s>:<offset s>..." ARGV[2] until, s
-- Reply: 1
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[2])
return 1
