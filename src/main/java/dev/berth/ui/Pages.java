package dev.berth.ui;

import gg.jte.ContentType;
import gg.jte.TemplateEngine;
import gg.jte.output.StringOutput;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Renders the pages. The templates under {@code src/main/jte} are compiled to Java when Berth is built, so a page
 * costs no parsing at run time and a template error is a build error; every value is HTML-escaped by the engine.
 */
public final class Pages {
    private final TemplateEngine engine = TemplateEngine.createPrecompiled(ContentType.Html);

    /** The page {@code template} ({@code login}, {@code explore}, ...) for {@code page} inside the common frame. */
    public byte[] render(String template, Views.Chrome chrome, Object page) {
        StringOutput out = new StringOutput(8 * 1024);
        engine.render(template + ".jte", Map.of("chrome", chrome, "page", page), out);
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }
}
