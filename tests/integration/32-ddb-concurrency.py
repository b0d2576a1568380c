"""Many clients race conditional updates on one lease item: in every round exactly one
compare-and-set on leaseCounter wins, and the counter ends equal to the number of successful
writes (each conditional write is one transaction)."""

import threading

from kn import Kinesind, check, eq, main
from kn_ddb import DDB_ARGS, ddb_client, lease_table

THREADS, ROUNDS, FREE_TRIES = 8, 15, 20
T, K = "race", {"leaseKey": {"S": "shardId-000000000000"}}


def test():
    from botocore.exceptions import ClientError
    with Kinesind(args=DDB_ARGS) as kd:
        d = ddb_client(kd.endpoint)
        lease_table(d, T)
        d.put_item(TableName=T, Item=dict(K, leaseCounter={"N": "0"}), Expected={"leaseKey": {"Exists": False}})
        clients = [ddb_client(kd.endpoint) for _ in range(THREADS)]
        barrier = threading.Barrier(THREADS)
        wins = [[0] * ROUNDS for _ in range(THREADS)]
        free_wins = [0] * THREADS
        errors = []

        def cas(c, seen, who):
            c.update_item(TableName=T, Key=K, Expected={"leaseCounter": {"Value": {"N": str(seen)}}},
                          AttributeUpdates={"leaseCounter": {"Action": "PUT", "Value": {"N": str(seen + 1)}},
                                            "leaseOwner": {"Action": "PUT", "Value": {"S": who}}})

        def worker(i):
            c = clients[i]
            try:
                for rnd in range(ROUNDS):
                    barrier.wait()  # everyone reads the same counter ...
                    seen = int(c.get_item(TableName=T, Key=K, ConsistentRead=True)["Item"]["leaseCounter"]["N"])
                    barrier.wait()  # ... then everyone races to bump it
                    try:
                        cas(c, seen, "w%d" % i)
                        wins[i][rnd] = 1
                    except ClientError as e:
                        if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                            raise
                    barrier.wait()
                for _ in range(FREE_TRIES):  # and without lock-step rounds
                    seen = int(c.get_item(TableName=T, Key=K)["Item"]["leaseCounter"]["N"])
                    try:
                        cas(c, seen, "w%d" % i)
                        free_wins[i] += 1
                    except ClientError as e:
                        if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                            raise
            except Exception as e:  # report, and release the others
                errors.append(repr(e))
                barrier.abort()

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        check(not errors, "worker errors: %s" % errors[:3])
        for rnd in range(ROUNDS):
            eq(sum(wins[i][rnd] for i in range(THREADS)), 1, "winners in round %d" % rnd)
        total = ROUNDS + sum(free_wins)
        check(sum(free_wins) >= 1, "someone wins outside the rounds")
        final = d.get_item(TableName=T, Key=K, ConsistentRead=True)["Item"]
        eq(int(final["leaseCounter"]["N"]), total, "counter equals the number of successful writes")
        print("rounds %d x %d clients; free-running wins %d of %d attempts"
              % (ROUNDS, THREADS, sum(free_wins), THREADS * FREE_TRIES))


main(test)
