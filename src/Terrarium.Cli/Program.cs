using System.CommandLine;
using Terrarium.Cli;

var root = new RootCommand("Terrarium: start and stop a cluster's head and nodes, and see what it runs.")
{
    StartCommand.Create(),
    StopCommand.Create(),
    StatusCommand.Create(),
    ListCommand.Create(),
    EnvCommand.Create(),
    JobCommand.Create(),
};

// A stopping daemon ends its workers first: give it the time that takes before the process is cut.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
