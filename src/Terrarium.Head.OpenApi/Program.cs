// Not run by anyone: the build runs it (through Microsoft.Extensions.ApiDescription.Server) to write
// the head's HTTP API document to docs/openapi/terrarium-head.json, from the same endpoint
// mapping the head serves.
using Terrarium.Head.Http;

var builder = WebApplication.CreateBuilder(args);
HeadHttpServer.AddApi(builder.Services);
var app = builder.Build();
HeadHttpServer.MapApi(app);
app.Run();
