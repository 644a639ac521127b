// Runs fge's json-schema-validator (the draft-4 validator behind API Gateway's request validation) over a
// corpus of JSON lines {"id", "schema", "body"} (schema and body are JSON texts) and prints, per case, one
// JSON line {"id", "valid", "answer"}: the error-level messages as a Java list, the list form of
// $context.error.validationErrorString. A schema fge refuses, or a body that is not JSON, is answered with
// "error" instead.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.fge.jackson.JsonLoader;
import com.github.fge.jsonschema.core.report.LogLevel;
import com.github.fge.jsonschema.core.report.ProcessingMessage;
import com.github.fge.jsonschema.core.report.ProcessingReport;
import com.github.fge.jsonschema.main.JsonSchema;
import com.github.fge.jsonschema.main.JsonSchemaFactory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

public final class Driver {
    public static void main(String[] args) throws Exception {
        ObjectMapper plain = new ObjectMapper();
        JsonSchemaFactory factory = JsonSchemaFactory.byDefault();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            if (line.trim().isEmpty()) continue;
            JsonNode c = plain.readTree(line);
            ObjectNode answer = plain.createObjectNode();
            answer.put("id", c.get("id").textValue());
            try {
                JsonNode schemaNode = JsonLoader.fromString(c.get("schema").textValue());
                JsonNode body;
                try {
                    body = JsonLoader.fromString(c.get("body").textValue());
                } catch (Exception e) {
                    answer.put("error", "body is not JSON");
                    out.println(plain.writeValueAsString(answer));
                    continue;
                }
                JsonSchema schema = factory.getJsonSchema(schemaNode);
                ProcessingReport report = schema.validate(body);
                List<String> messages = new ArrayList<>();
                boolean fatal = false;
                for (ProcessingMessage m : report) {
                    if (m.getLogLevel() == LogLevel.FATAL) fatal = true;
                    if (m.getLogLevel().compareTo(LogLevel.ERROR) >= 0) messages.add(m.getMessage());
                }
                if (fatal) {
                    answer.put("error", messages.toString());
                } else {
                    answer.put("valid", report.isSuccess());
                    if (!report.isSuccess()) answer.put("answer", messages.toString());
                }
            } catch (Exception e) {
                answer.put("error", String.valueOf(e.getMessage()).split("\n")[0]);
            }
            out.println(plain.writeValueAsString(answer));
        }
    }
}
