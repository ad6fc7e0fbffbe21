package dev.berth.cli;

import dev.berth.Berth;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code berth} command line. */
@Command(name = "berth", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Berth: an OCI container registry.",
        subcommands = {ServeCommand.class, VerifyCommand.class, GcCommand.class, ScrubCommand.class, ImportCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        int code = new CommandLine(new Main()).execute(args);
        if (code != 0 || !ServeCommand.serving()) {
            System.exit(code);
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"berth " + Berth.version()};
        }
    }
}
