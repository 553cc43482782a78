// Tombstone sends null-value messages (tombstones) the way Java applications
// do, key(k).value(null), which sets the message metadata's null_value flag
// (SingleMessageMetadata.null_value inside a batch). Magnetar's tests run it
// through internal/testjava with the broker installation's client jars:
//
//   java -cp '<pulsar>/lib/*' Tombstone.java SERVICE_URL TOPIC OP...
//
// OP is single=K1,K2,... (one unbatched message per key) or batch=K1,K2,...
// (all keys in one batch); a key may be empty (key("")). The producer uses
// the topic's own schema (AUTO_PRODUCE_BYTES). For every message it prints
// "sent<TAB>KEY<TAB>ledger:entry:batchIndex" (batchIndex -1 when unbatched);
// the client's own log goes to stdout too.

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.MessageIdAdv;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.ProducerBuilder;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.Schema;

public class Tombstone {
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: Tombstone SERVICE_URL TOPIC single=K,...|batch=K,...");
            System.exit(2);
        }
        try (PulsarClient client = PulsarClient.builder().serviceUrl(args[0]).build()) {
            for (int i = 2; i < args.length; i++) {
                int eq = args[i].indexOf('=');
                String kind = eq < 0 ? "" : args[i].substring(0, eq);
                if (!kind.equals("single") && !kind.equals("batch")) {
                    throw new IllegalArgumentException("bad op " + args[i]);
                }
                String[] keys = args[i].substring(eq + 1).split(",", -1);
                boolean batch = kind.equals("batch");
                ProducerBuilder<byte[]> pb = client.newProducer(Schema.AUTO_PRODUCE_BYTES())
                        .topic(args[1]).enableBatching(batch);
                if (batch) {
                    // Only flush() ends the batch: every key goes into it.
                    pb = pb.batchingMaxMessages(keys.length + 1).batchingMaxPublishDelay(1, TimeUnit.HOURS);
                }
                try (Producer<byte[]> p = pb.create()) {
                    List<CompletableFuture<MessageId>> sent = new ArrayList<>();
                    for (String k : keys) {
                        sent.add(p.newMessage().key(k).value(null).sendAsync());
                        if (!batch) {
                            sent.get(sent.size() - 1).get(); // keep the order of keys
                        }
                    }
                    p.flush();
                    for (int j = 0; j < keys.length; j++) {
                        MessageIdAdv id = (MessageIdAdv) sent.get(j).get(1, TimeUnit.MINUTES);
                        System.out.println("sent\t" + keys[j] + "\t" + id.getLedgerId() + ":" + id.getEntryId() + ":" + id.getBatchIndex());
                    }
                }
            }
        }
    }
}
