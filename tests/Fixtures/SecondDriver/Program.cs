// Usage: SecondDriver <head address> <token> <actor name> <amount>
// Prints the named NodeCounter's total after adding <amount>, and the node it lives on.
using ClusterWork;
using Terrarium;

await using var cluster = await Cluster.InitAsync(new ClusterOptions { Address = args[0], Token = args[1], LogToDriver = false });
var counter = await cluster.GetActorAsync<NodeCounter>(args[2]);
var total = await counter.Call(c => c.Add(int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture)));
Console.WriteLine($"{total} on {await counter.Call(c => c.Where())}");
