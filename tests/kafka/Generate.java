// Kafka's own `kafka-reassign-partitions --generate` on a kafka-migrate
// snapshot, without a cluster: the tool's private `calculateAssignment`
// (Kafka 4.3.1's code, reached by reflection) fed what `--generate` would
// read from the cluster, so the quality table compares plans on the very
// clusters `plan` is judged on.
//
// usage: java -cp 'target/kafka/lib/*' tests/kafka/Generate.java SNAPSHOT OUT [BROKERS]
//   Every topic of SNAPSHOT is "to move"; the broker list is BROKERS
//   (comma-separated ids, `--broker-list`), else every live broker (what
//   an operator passes with a dead broker); racks are used
//   when the brokers have them (`--disable-rack-aware` not given).
//   Writes Kafka's reassignment JSON (version 1) to OUT.
//   `--generate` is random (its start broker): run it several times.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.metadata.placement.UsableBroker;
import org.apache.kafka.tools.reassign.ReassignPartitionsCommand;

public class Generate {
    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: Generate SNAPSHOT OUT [BROKERS]");
            System.exit(2);
        }
        java.util.Set<Integer> listed = new java.util.HashSet<>();
        if (args.length == 3) {
            for (String id : args[2].split(",")) {
                listed.add(Integer.parseInt(id.trim()));
            }
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode snapshot = json.readTree(new File(args[0]));
        List<UsableBroker> brokers = new ArrayList<>();
        for (JsonNode b : snapshot.get("brokers")) {
            boolean wanted = listed.isEmpty() ? b.path("alive").asBoolean(true) : listed.contains(b.get("id").asInt());
            if (wanted) {
                JsonNode rack = b.get("rack");
                Optional<String> r = rack == null || rack.isNull() ? Optional.empty() : Optional.of(rack.asText());
                brokers.add(new UsableBroker(b.get("id").asInt(), r, false));
            }
        }
        Map<TopicPartition, List<Integer>> current = new HashMap<>();
        for (JsonNode t : snapshot.get("topics")) {
            for (JsonNode p : t.get("partitions")) {
                List<Integer> replicas = new ArrayList<>();
                p.get("replicas").forEach(r -> replicas.add(r.asInt()));
                current.put(new TopicPartition(t.get("name").asText(), p.get("partition").asInt()), replicas);
            }
        }
        Method calculate = ReassignPartitionsCommand.class.getDeclaredMethod("calculateAssignment", Map.class, List.class);
        calculate.setAccessible(true);
        @SuppressWarnings("unchecked")
        Map<TopicPartition, List<Integer>> proposed = (Map<TopicPartition, List<Integer>>) calculate.invoke(null, current, brokers);
        List<TopicPartition> order = new ArrayList<>(proposed.keySet());
        order.sort(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        ObjectNode out = json.createObjectNode();
        out.put("version", 1);
        ArrayNode partitions = out.putArray("partitions");
        for (TopicPartition tp : order) {
            ObjectNode p = partitions.addObject();
            p.put("topic", tp.topic());
            p.put("partition", tp.partition());
            ArrayNode replicas = p.putArray("replicas");
            proposed.get(tp).forEach(replicas::add);
        }
        json.writeValue(new File(args[1]), out);
    }
}
