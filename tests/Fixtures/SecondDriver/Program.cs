// Usage: SecondDriver <head address> <token> <actor name> <amount>
//   Prints the named NodeCounter's total after adding <amount>, and the node it lives on.
// Or:    SecondDriver <head address> <token> --abandon <tasks> <marks file>
//   Submits <tasks> tasks of 600 s, prints "submitted" once the first has started, and waits to be
//   killed: a driver that goes without ending its job.
// Or:    SecondDriver <head address> <token> --hold <actor name>
//   Ships its code to the head's store, creates a NodeCounter of that name, prints its job id, and
//   waits to be killed: a driver that dies holding a package and a name.
// Or:    SecondDriver <head address> <token> --setup <folder>
//   Runs a task in a working_dir of that folder and prints what its name.txt says: a driver whose
//   env is set up while it waits (and shows it, on a terminal).
// The cluster's CA pin comes from TERRARIUM_CA_HASH, as a job's driver gets it.
using ClusterWork;
using Terrarium;

await using var cluster = await Cluster.InitAsync(new ClusterOptions { Address = args[0], Token = args[1], LogToDriver = false, ShipJobCode = args[2] == "--hold" });
if (args[2] == "--hold")
{
    var held = cluster.CreateActor(() => new NodeCounter(), new ActorOptions { Name = args[3], NumCpus = 0 });
    await held.Call(c => c.Add(1));
    Console.WriteLine(cluster.JobId);
    await Task.Delay(Timeout.Infinite);
}

if (args[2] == "--setup")
{
    Console.WriteLine(await cluster.Submit(() => WorkingDirFiles.Read("name.txt"), new TaskOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = args[3] } }));
    return;
}

if (args[2] == "--abandon")
{
    var marks = args[4];
    var tasks = Enumerable.Range(0, int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture))
        .Select(_ => cluster.Submit(() => LongWork.MarkThenSleep(marks, 600))).ToList();
    while (!File.Exists(marks))
    {
        await Task.Delay(50);
    }

    Console.WriteLine("submitted");
    await Task.Delay(Timeout.Infinite);
}

var counter = await cluster.GetActorAsync<NodeCounter>(args[2]);
var total = await counter.Call(c => c.Add(int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture)));
Console.WriteLine($"{total} on {await counter.Call(c => c.Where())}");
