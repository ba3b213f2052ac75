-- KEYS[1] family hash (for routing), ARGV[1] base, ARGV[2] sid
return revoke_family(ARGV[1], ARGV[2])
